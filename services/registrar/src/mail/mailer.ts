import nodemailer, { type Transporter } from "nodemailer";
import { mailLogger as log } from "../logger";

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close?(): void;
}

/** `p***@example.com`: enough to tell messages apart in a log, not to harvest addresses. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  return at <= 0 ? "***" : `${email[0]}***${email.slice(at)}`;
}

/**
 * No mailbox. With `showMessages` (the local platform's terminal, or
 * REGISTRAR_MAIL_TO_LOG=true for development) the whole message, one-time code included,
 * goes to `sink`; otherwise only that a message to a masked address was dropped.
 */
export class LogMailer implements Mailer {
  constructor(
    private readonly sink: (line: string) => void = (l) => log.warn(l),
    private readonly showMessages = false,
  ) {}

  async send(mail: Mail): Promise<void> {
    if (!this.showMessages) {
      this.sink(`no SMTP configured: email to ${maskEmail(mail.to)} (${mail.subject}) not sent`);
      return;
    }
    this.sink(`email to ${mail.to}: ${mail.subject} — ${mail.text.replace(/\s+/g, " ").trim()}`);
  }
}

export interface SmtpConfig {
  host: string;
  port: number;
  secure: boolean;
  user?: string;
  pass?: string;
  from: string;
  /** PEM bundle the SMTP server's certificate must chain to (default: the system's). */
  ca?: string;
}

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(private readonly cfg: SmtpConfig) {
    this.transport = nodemailer.createTransport({
      host: cfg.host,
      port: cfg.port,
      secure: cfg.secure,
      // Without implicit TLS, insist on STARTTLS: codes and passwords never go in clear.
      requireTLS: !cfg.secure,
      tls: cfg.ca ? { ca: cfg.ca } : undefined,
      auth: cfg.user ? { user: cfg.user, pass: cfg.pass ?? "" } : undefined,
    });
  }

  async send(mail: Mail): Promise<void> {
    await this.transport.sendMail({ from: this.cfg.from, ...mail });
    log.info({ to: maskEmail(mail.to), subject: mail.subject }, "email sent");
  }

  close(): void {
    this.transport.close();
  }
}
