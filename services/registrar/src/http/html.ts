// Tiny server-side templating: every interpolated value goes through `esc` unless it is
// already an `Html` fragment built here.
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function esc(text: unknown): string {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Tagged template: strings are escaped, Html fragments and arrays of them are inserted. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v === undefined || v === null || v === false) return "";
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join("");
  return esc(v);
}

export function raw(markup: string): Html {
  return new Html(markup);
}

export interface PageOptions {
  title: string;
  body: Html;
  /** Seconds until the page reloads itself (no JavaScript needed). */
  refresh?: number;
  signedIn?: boolean;
}

export function page(o: PageOptions): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${o.refresh ? html`<meta http-equiv="refresh" content="${o.refresh}" />` : ""}
        <title>${o.title} · atPlatform registrar</title>
        <link rel="stylesheet" href="/style.css" />
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <nav aria-label="Main">
            <a href="/">Get an atSign</a> <a href="/atsigns">My atSigns</a>${
              o.signedIn
                ? html` <form method="post" action="/logout" class="inline">
                    <button type="submit">Sign out</button>
                  </form>`
                : ""
            }
          </nav>
        </header>
        <main id="main">
          <h1>${o.title}</h1>
          ${o.body}
        </main>
      </body>
    </html> `.value;
}

export const STYLE = `
body{font-family:system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;line-height:1.5;color:#111}
.skip{position:absolute;left:-10000px}.skip:focus{left:1rem;top:1rem;background:#ff0;padding:.25rem}
nav a{margin-right:1rem}form.inline{display:inline}
label{display:block;font-weight:600;margin-top:.75rem}
input[type=text],input[type=email],select{font-size:1rem;padding:.4rem;width:100%;max-width:24rem;box-sizing:border-box}
button{font-size:1rem;padding:.4rem .9rem;margin-top:.75rem}
.error{border-left:4px solid #b00020;padding:.5rem;background:#fde7ea}
.note{border-left:4px solid #1565c0;padding:.5rem;background:#e8f0fe}
code.secret{display:block;word-break:break-all;background:#f4f4f4;padding:.5rem;font-size:.9rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}
figure.qr svg{width:16rem;height:16rem}
`;
