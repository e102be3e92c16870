// HTML validation of the pages (html-validate, its recommended rules): a page that fails names each problem.
import { HtmlValidate } from 'html-validate';
import { expect } from 'vitest';

const validator = new HtmlValidate({
  extends: ['html-validate:recommended'],
  rules: {
    // A lower-case <!doctype html> is as valid as upper case; the pages have always written it so.
    'doctype-style': 'off',
  },
});

/** The problems html-validate finds in a page, one line each ("line:column rule: message"). */
export async function htmlProblems(page: string): Promise<string[]> {
  const report = await validator.validateString(page);
  return report.results.flatMap((r) => r.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`));
}

export async function expectValidHtml(page: string, what = 'page'): Promise<void> {
  expect(await htmlProblems(page), what).toEqual([]);
}
