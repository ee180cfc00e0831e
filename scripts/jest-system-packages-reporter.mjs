// A jest reporter that ends the run with the banner of scripts/system-packages.mjs when test files
// were left out because a system package they need is missing (jest.config.js leaves them out),
// so that a green run that skipped them says so where it is read: at the end.
import { skippedBanner, skippedTestFiles } from './system-packages.mjs';

export default class SystemPackagesReporter {
  onRunComplete() {
    const skipped = skippedTestFiles();
    if (skipped.length > 0) process.stderr.write(`\n${skippedBanner(skipped)}`);
  }
}
