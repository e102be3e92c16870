// The escaping template tag every page is written with: html`<p>${text}</p>` escapes each value unless it is
// already Html (made by html`` itself, or by raw() for trusted constants). Arrays are joined; null, undefined
// and false render nothing. Pure module: no I/O.

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Markup that is safe to insert as it is. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = Html | string | number | null | undefined | false | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.value;
  if (value === null || value === undefined || value === false) return '';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return escapeHtml(value);
  let out = '';
  for (const v of value) out += render(v);
  return out;
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Trusted markup written in this code (never text from a key, a request or the database). */
export function raw(markup: string): Html {
  return new Html(markup);
}

/** Items joined by a separator (itself escaped unless Html). */
export function join(items: readonly HtmlValue[], separator: HtmlValue): Html {
  const sep = render(separator);
  return new Html(items.map(render).join(sep));
}

/** A path with query parameters, URL-encoded (escaping for the attribute happens when it is inserted). */
export function href(path: string, params: readonly [string, string][] = []): string {
  if (params.length === 0) return path;
  return `${path}?${params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;
}
