import { describe, expect, it } from 'vitest';
import { budgetExceededMessage, budgetFigures } from '../../src/cli/render-commands.js';

describe('the budget in the terminal', () => {
  it('names the nodes reserved by drains admitted and not started yet, beside those in flight', () => {
    const refused = { code: 'BudgetExceeded', online: 6, unavailable: 2, inFlight: 1, reserved: 1, requested: 1, allowed: 2, maxUnavailable: 2 };
    expect(budgetExceededMessage(refused, 'race-1')).toContain('of race-1 refuses this drain: online 6, unavailable 2 (1 in flight, 1 reserved), this drain would add 1, allowed 2 (maxUnavailable 2)');
    expect(budgetFigures({ ...refused, inFlight: 0 })).toBe('online 6, unavailable 2 (1 reserved), this drain adds 1, allowed 2 (maxUnavailable 2)');
    expect(budgetFigures({ ...refused, inFlight: 0, reserved: 0 })).toBe('online 6, unavailable 2, this drain adds 1, allowed 2 (maxUnavailable 2)');
  });
});
