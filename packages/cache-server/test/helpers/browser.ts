import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { findExecutable } from '../../../../scripts/system-packages.mjs';

/**
 * Debian's Chromium (package chromium, which the test command installs): the machine has no
 * network for Playwright's own browser downloads.
 */
const CHROMIUM_PATH = findExecutable('chromium') ?? '/usr/bin/chromium';

/** Headless, and quiet: no background traffic of Chromium's own that could reach the servers or hang. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Long enough for a cold Chromium start, short enough that a broken page fails instead of hanging. */
const BROWSER_TIMEOUT_MS = 20_000;

/** What one response seen by the page said, by path. */
export interface SeenResponse {
  url: URL;
  status: number;
  xCache: string | undefined;
  /** The coding the body came in (the browser decoded it). */
  contentEncoding: string | undefined;
}

export interface LoadedPage {
  page: Page;
  /** Every response the page received, in arrival order. */
  responses: SeenResponse[];
  /** Requests that failed outright (network error, aborted), as `METHOD url: reason`. */
  failures: string[];
  /** Responses whose path is `path`. */
  responsesFor(path: string): SeenResponse[];
  close(): Promise<void>;
}

/** `extraArgs`: more Chromium switches, e.g. `--host-resolver-rules=MAP name 127.0.0.1` for a name of our own. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    timeout: BROWSER_TIMEOUT_MS,
  });
}

/**
 * Opens `url` in a new browser context, whose HTTP cache starts empty, so every request the page
 * makes reaches the server. Resolves once the load event has fired and the network is idle.
 */
export async function openInFreshContext(
  browser: Browser,
  url: string,
  width = 1200,
  options: { ignoreHTTPSErrors?: boolean } = {},
): Promise<LoadedPage> {
  // ignoreHTTPSErrors: the context accepts a self-signed certificate, as a person does by
  // clicking through the browser's warning once.
  const context: BrowserContext = await browser.newContext({ viewport: { width, height: 800 }, ...options });
  context.setDefaultTimeout(BROWSER_TIMEOUT_MS);
  try {
    const page = await context.newPage();
    const responses: SeenResponse[] = [];
    const failures: string[] = [];
    page.on('response', (response) => {
      responses.push({
        url: new URL(response.url()),
        status: response.status(),
        xCache: response.headers()['x-cache'],
        contentEncoding: response.headers()['content-encoding'],
      });
    });
    page.on('requestfailed', (request) => {
      failures.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? 'unknown'}`);
    });
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForLoadState('networkidle');
    return {
      page,
      responses,
      failures,
      responsesFor: (path) => responses.filter((response) => response.url.pathname === path),
      close: () => context.close(),
    };
  } catch (error) {
    await context.close();
    throw error;
  }
}
