import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkPackages, importPackages, MissingPackagesError, PLOT_PACKAGES, SIMULATOR_PACKAGES } from '../src/sim/packages.js'
import { loadPlotPackages } from '../src/sim/plots.js'
import type { PackageNeed } from '../src/sim/packages.js'

/** A package no registry holds, imported through a variable so that the compiler does not look for it. */
const MISSING = 'caravela-test-no-such-package'

test('a missing package: an error that names what to install', async () => {
  try {
    await importPackages(async () => import(MISSING), 'the plots', [MISSING, 'vega'], ' (or pass --no-plots)')
    assert.unreachable('the import succeeded')
  } catch (err: any) {
    assert.instance(err, MissingPackagesError)
    assert.equal(err.packages, [MISSING, 'vega'])
    assert.is(err.message, `the plots need ${MISSING} and vega, not installed here: npm install ${MISSING} vega (or pass --no-plots)`)
    assert.not.match(err.message, '\n')
  }
})

test('any other failure of the import is passed on as it is', async () => {
  const failure = new Error('no')
  await importPackages(async () => { throw failure }, 'the simulator', ['pure-rand']).then(
    () => assert.unreachable('the import succeeded'),
    err => { assert.is(err, failure) }
  )
  // a missing package that is not one of those named is not theirs to install
  await importPackages(async () => import(MISSING), 'the simulator', ['pure-rand']).then(
    () => assert.unreachable('the import succeeded'),
    err => { assert.not.instance(err, MissingPackagesError) }
  )
})

test('checkPackages names every package of each part that lacks one, in one error', () => {
  checkPackages([{ what: 'the simulator', packages: SIMULATOR_PACKAGES }, { what: 'the plots', packages: PLOT_PACKAGES }])

  const error = (needs: PackageNeed[]): MissingPackagesError => {
    try {
      checkPackages(needs)
    } catch (err: any) {
      assert.instance(err, MissingPackagesError)
      return err
    }

    return assert.unreachable('nothing was missing') as never
  }

  // one part: its hint; a part misses all its packages when it lacks one
  assert.is(error([{ what: 'the simulator', packages: SIMULATOR_PACKAGES }, { what: 'the plots', packages: ['vega', MISSING], hint: ' (or pass --no-plots)' }]).message,
    `the plots need vega and ${MISSING}, not installed here: npm install vega ${MISSING} (or pass --no-plots)`)
  // two parts: one install for both, no hint
  assert.is(error([{ what: 'the simulator', packages: [MISSING] }, { what: 'the plots', packages: [`${MISSING}-2`], hint: ' (or pass --no-plots)' }]).message,
    `the simulator and the plots need ${MISSING} and ${MISSING}-2, not installed here: npm install ${MISSING} ${MISSING}-2`)
})

test('the plots\' packages load in the repository, where they are development dependencies', async () => {
  assert.equal([...PLOT_PACKAGES], ['vega', 'vega-lite', '@resvg/resvg-js'])
  const packages = await loadPlotPackages()
  assert.type(packages.compile, 'function')
  assert.type(packages.Resvg, 'function')
  assert.is(await loadPlotPackages(), packages)
})

test.run()
