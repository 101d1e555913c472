import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { allPackages, importPackages, MissingPackagesError, PLOT_PACKAGES } from '../src/sim/packages.js'
import { loadPlotPackages } from '../src/sim/plots.js'

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

test('packages missing for several parts are named in one error', async () => {
  const missing = async (what: string, name: string): Promise<unknown> => importPackages(async () => import(name), what, [name])
  await allPackages([undefined, Promise.resolve()])

  const one = await allPackages([missing('the simulator', MISSING), Promise.resolve()]).catch(err => err)
  assert.is(one.message, `the simulator needs ${MISSING}, not installed here: npm install ${MISSING}`)

  const both = await allPackages([missing('the simulator', MISSING), missing('the plots', `${MISSING}-2`), undefined]).catch(err => err)
  assert.instance(both, MissingPackagesError)
  assert.is(both.message, `the simulator and the plots need ${MISSING} and ${MISSING}-2, not installed here: npm install ${MISSING} ${MISSING}-2`)

  const failure = new Error('no')
  assert.is(await allPackages([missing('the simulator', MISSING), Promise.reject(failure)]).catch(err => err), failure)
})

test('the plots\' packages load in the repository, where they are development dependencies', async () => {
  assert.equal([...PLOT_PACKAGES], ['vega', 'vega-lite', '@resvg/resvg-js'])
  const packages = await loadPlotPackages()
  assert.type(packages.compile, 'function')
  assert.type(packages.Resvg, 'function')
  assert.is(await loadPlotPackages(), packages)
})

test.run()
