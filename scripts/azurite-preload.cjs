// Preloaded into Azurite's process by scripts/local-storage.ts. Its stdin is a pipe from the
// process that started it: when that process dies (even by SIGKILL) the pipe ends and Azurite
// stops as on Ctrl-C (saving its database), so no orphan keeps `.data/azurite` open. Azurite
// handles one SIGINT; this listener makes a second one (a terminal's Ctrl-C reaches the whole
// process group, then the parent sends its own) harmless instead of killing it mid-save.
process.stdin.on('end', () => process.kill(process.pid, 'SIGINT'));
process.stdin.resume();
process.on('SIGINT', () => process.stdin.destroy());
