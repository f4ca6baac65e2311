// Process groups of the commands the README tests start (`npm start`, `npm run demo`).

/** Whether any process is left in the group. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false; // ESRCH: no process left in the group
  }
}
