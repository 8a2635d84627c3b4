// `npm run api:report`: the public surface of each of the package's entry points (package.json
// "exports") as an API report in etc/api/, written by API Extractor from declarations compiled
// fresh from src/. `--check` (lint, CI) fails when the surface differs from the committed
// report: a change to the public API is then a reviewed diff of etc/api/*.api.md.
//   node scripts/api-report.mjs           rewrite the reports
//   node scripts/api-report.mjs --check   exit 1 if a report is not what it would write
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const reportFolder = path.join(root, 'etc', 'api');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-api-'));

try {
  // Declarations of src/ as they are now (dist/ may be stale), with the package's tsconfig.
  const dts = path.join(tmp, 'dts');
  execFileSync(
    process.execPath,
    [
      path.join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      path.join(root, 'tsconfig.build.json'),
      '--declaration',
      '--emitDeclarationOnly',
      '--outDir',
      dts,
    ],
    { stdio: 'inherit' },
  );
  let changed = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || !target.types) continue;
    const name = subpath === '.' ? pkg.name : `${pkg.name}-${subpath.slice(2).replace(/\//g, '-')}`;
    const entry = path.join(dts, path.relative('dist', target.types));
    const config = ExtractorConfig.prepare({
      configObjectFullPath: path.join(root, 'api-extractor.json'),
      packageJsonFullPath: path.join(root, 'package.json'),
      configObject: {
        projectFolder: root,
        mainEntryPointFilePath: entry,
        compiler: {
          overrideTsconfig: {
            compilerOptions: {
              target: 'ES2022',
              lib: ['ES2022', 'ESNext.Disposable', 'ESNext.AsyncIterable'],
              module: 'node16',
              moduleResolution: 'node16',
              types: ['node'],
              skipLibCheck: true,
              strict: true,
            },
            files: [entry],
          },
        },
        apiReport: { enabled: true, reportFileName: `${name}.api.md`, reportFolder, reportTempFolder: path.join(tmp, 'report') },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          compilerMessageReporting: { default: { logLevel: 'warning' } },
          extractorMessageReporting: {
            default: { logLevel: 'warning' },
            // No @public/@beta tags: everything an entry point exports is public.
            'ae-missing-release-tag': { logLevel: 'none' },
            // A type used by the API but not exported is listed in the report, to be seen.
            'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true },
            // Documentation is TypeDoc's check (npm run docs:check).
            'ae-undocumented': { logLevel: 'none' },
          },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
        },
      },
    });
    const result = Extractor.invoke(config, { localBuild: !check, showVerboseMessages: false });
    if (result.apiReportChanged) changed.push(`etc/api/${name}.api.md`);
    if (!result.succeeded && !result.apiReportChanged) {
      console.error(`api-report: API Extractor failed on ${subpath} (${result.errorCount} errors)`);
      process.exitCode = 1;
    }
  }
  if (check && changed.length) {
    console.error(
      `api-report: the public API differs from ${changed.join(', ')}.\nIf the change is meant, run \`npm run api:report\` and commit the report with it.`,
    );
    process.exitCode = 1;
  } else if (!check) {
    console.log(`api-report: ${changed.length ? `updated ${changed.join(', ')}` : 'reports unchanged'}`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
