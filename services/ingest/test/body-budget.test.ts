import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBodyBudget } from '../src/http/body-budget.ts';

test('bodies are admitted while their sizes fit the budget, and again once released', () => {
  const budget = createBodyBudget(100);
  const first = budget.tryReserve(60);
  assert.ok(first);
  assert.equal(budget.tryReserve(50), undefined, '60 + 50 is over 100');
  const second = budget.tryReserve(40);
  assert.ok(second, '60 + 40 fits exactly');
  assert.equal(budget.inFlightBytes, 100);
  first();
  first(); // a second release changes nothing
  assert.equal(budget.inFlightBytes, 40);
  assert.ok(budget.tryReserve(60));
});

test('one body larger than the whole budget is admitted when nothing else is in flight, alone', () => {
  const budget = createBodyBudget(100);
  const big = budget.tryReserve(500);
  assert.ok(big);
  assert.equal(budget.tryReserve(1), undefined);
  big();
  assert.equal(budget.inFlightBytes, 0);
  assert.ok(budget.tryReserve(1));
});
