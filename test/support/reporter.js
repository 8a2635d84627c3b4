// Mocha reporter: the usual spec output (with a XenError's details), plus the counts written to $XENLIGHT_RESULTS (JSON) so
// that scripts/test.sh can print one summary line for every suite.
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

class CountingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    // A XenError's message holds libxl's last error line; the lines before it (xc errors, the
    // steps that led there) are in details: print them with the failure, for CI logs.
    const failures = [];
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (test, err) => {
      // Kept for the summary at the end of npm test: CI shows only the tail of the log.
      failures.push({
        title: test.fullTitle(),
        error: String((err && err.message) || err)
          .split('\n')
          .slice(0, 3)
          .join(' / ')
          .slice(0, 400),
      });
      if (err && Array.isArray(err.details) && err.details.length > 1 && !err.detailsShown) {
        err.detailsShown = true;
        err.message += '\n    details:\n' + err.details.map((l) => '      ' + l).join('\n');
      }
    });
    const write = (extraFailures = 0) => {
      const out = process.env.XENLIGHT_RESULTS;
      if (!out) return;
      const s = runner.stats || {};
      fs.writeFileSync(
        out,
        JSON.stringify({ passed: s.passes || 0, failed: (s.failures || 0) + extraFailures, skipped: s.pending || 0, failures }),
      );
    };
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      write();
      // Mocha waits for the event loop to drain before it exits: a test that left a server, a
      // child process or a Host open would hang the run until CI's time limit. Still alive a
      // minute after the last test: name what is open, count it as a failure, and exit.
      const watchdog = setTimeout(() => {
        const open = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
        const error = `the suite ended 60 s ago but the process is still alive; open: ${open.join(', ')} (a test left them)`;
        console.error(`\n${error}`);
        failures.push({ title: 'the test process exits when the suite ends', error });
        write(1);
        // Mocha's own 'exit' listener sets the exit code from its failure count: ours comes after.
        process.on('exit', () => {
          process.exitCode = 1;
        });
        process.exit(1);
      }, 60_000);
      watchdog.unref();
    });
  }
}
module.exports = CountingReporter;
