import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { compact, copyList, emptyMap, writable } from '../src/empty.js'

test('the shared empty Map refuses writes; writable() gives a Map of its own, compact() gives the shared one back', () => {
  const shared = emptyMap<string, number>()
  assert.is(emptyMap(), shared)
  assert.throws(() => shared.set('a', 1), (err: Error) => err instanceof TypeError)
  assert.is(shared.size, 0)

  let table = emptyMap<string, number>()
  table = writable(table)
  assert.is.not(table, shared)
  table.set('a', 1)
  assert.is(writable(table), table, 'a Map of its own stays')
  assert.is(compact(table), table, 'a Map that holds entries stays')
  table.delete('a')
  assert.is(compact(table), shared)
  assert.is(shared.size, 0)
})

test('copyList copies a list; every empty list shares one frozen list', () => {
  const list = ['/ip4/127.0.0.1/tcp/1']
  const copy = copyList(list)
  assert.equal(copy, list)
  assert.is.not(copy, list)

  const empty = copyList<string>([])
  assert.is(copyList([]), empty)
  assert.ok(Object.isFrozen(empty))
  assert.throws(() => { empty.push('x') }, (err: Error) => err instanceof TypeError)
})

test.run()
