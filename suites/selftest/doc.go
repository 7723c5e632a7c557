// Package selftest proves the checks can fail: the fault matrix runs every
// pattern's checks against the emulator once per fault and asserts that
// exactly the checks that depend on the broken behaviour fail, and that with
// no fault every check passes. It also holds the benchmark of a full run.
package selftest
