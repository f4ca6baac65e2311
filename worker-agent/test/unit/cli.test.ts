// Every command of `workforce-agent` answers --help and --version, before it reads any setting.
// (`run -- <command> --help` leaves --help to the command: test/process/wrapper.test.ts.)
import { describe, expect, it } from 'vitest';
import { VERSION, main } from '../../src/commands/main.js';

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(argv, {}, (s) => {
    out += s;
    return true;
  });
  return { code, out };
}

describe.each(['listen', 'run', 'status', 'resume'])('workforce-agent %s', (command) => {
  it('--help prints the usage and the options of the command, with no setting given', async () => {
    const { code, out } = await cli([command, '--help']);
    expect(code).toBe(0);
    expect(out).toContain(`options of ${command}`);
    expect(out).toContain('--topic <value>');
  });

  it('--version prints the version', async () => {
    expect(await cli([command, '--version'])).toEqual({ code: 0, out: `${VERSION}\n` });
  });
});

it('help names an unknown command', async () => {
  expect((await cli(['help', 'bogus'])).code).toBe(2);
});
