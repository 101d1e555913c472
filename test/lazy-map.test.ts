import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LazyMap } from '../src/lazy-map.js'

/** The table a LazyMap holds, absent while it is empty. */
function table (map: LazyMap<any, any>): Map<any, any> | undefined {
  return (map as any).map
}

test('a LazyMap reads and writes as a Map, and holds a table only while it has entries', () => {
  const map = new LazyMap<string, number>()
  assert.is(map.size, 0)
  assert.is(map.get('a'), undefined)
  assert.not.ok(map.has('a'))
  assert.not.ok(map.delete('a'))
  assert.equal([...map], [])
  assert.equal([...map.keys()], [])
  assert.equal([...map.values()], [])
  assert.is(table(map), undefined)

  assert.is(map.set('a', 1), map)
  map.set('b', 2).set('a', 3)
  assert.is(map.size, 2)
  assert.is(map.get('a'), 3)
  assert.ok(map.has('b'))
  assert.equal([...map], [['a', 3], ['b', 2]])
  assert.equal([...map.entries()], [['a', 3], ['b', 2]])
  assert.equal([...map.keys()], ['a', 'b'])
  assert.equal([...map.values()], [3, 2])
  assert.ok(table(map) instanceof Map)

  assert.ok(map.delete('a'))
  assert.not.ok(map.delete('a'))
  assert.ok(table(map) instanceof Map, 'kept while it has entries')
  assert.ok(map.delete('b'))
  assert.is(table(map), undefined, 'dropped with its last entry')
  assert.is(map.size, 0)

  // written again after it was emptied, and cleared
  map.set('c', 4)
  assert.equal([...map], [['c', 4]])
  map.clear()
  assert.is(map.size, 0)
  assert.is(table(map), undefined)
})

test('empty LazyMaps share nothing that a write could reach', () => {
  const one = new LazyMap<string, number>()
  const other = new LazyMap<string, number>()
  one.set('a', 1)
  assert.is(other.size, 0)
  assert.is(other.get('a'), undefined)
  assert.equal([...other], [])
  one.delete('a')
  other.set('b', 2)
  assert.is(one.size, 0)
  assert.equal([...one], [])
})

test('deleting while iterating, as a Map allows', () => {
  const map = new LazyMap<number, string>()

  for (let i = 0; i < 5; i++) {
    map.set(i, String(i))
  }

  const seen: number[] = []

  for (const [key] of map) {
    seen.push(key)
    map.delete(key)
  }

  assert.equal(seen, [0, 1, 2, 3, 4])
  assert.is(map.size, 0)
  assert.is(table(map), undefined)
})

test.run()
