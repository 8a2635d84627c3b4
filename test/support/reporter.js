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
      failures.push({ title: test.fullTitle(), error: String((err && err.message) || err).split('\n').slice(0, 3).join(' / ').slice(0, 400) });
      if (err && Array.isArray(err.details) && err.details.length > 1 && !err.detailsShown) {
        err.detailsShown = true;
        err.message += '\n    details:\n' + err.details.map((l) => '      ' + l).join('\n');
      }
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const out = process.env.XENLIGHT_RESULTS;
      if (!out) return;
      const s = runner.stats || {};
      fs.writeFileSync(out, JSON.stringify({ passed: s.passes || 0, failed: s.failures || 0, skipped: s.pending || 0, failures }));
    });
  }
}
module.exports = CountingReporter;
