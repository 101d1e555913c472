import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { copyList } from '../src/empty.js'

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
