// The agent's version: printed by `--version` and carried in presence reports.
export const VERSION = '0.1.0';
