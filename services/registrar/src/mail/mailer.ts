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

/** Local mode: the message (with its one-time code) goes to the log instead of a mailbox. */
export class LogMailer implements Mailer {
  constructor(private readonly sink: (line: string) => void = (l) => log.info(l)) {}

  async send(mail: Mail): Promise<void> {
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
}

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(private readonly cfg: SmtpConfig) {
    this.transport = nodemailer.createTransport({
      host: cfg.host,
      port: cfg.port,
      secure: cfg.secure,
      auth: cfg.user ? { user: cfg.user, pass: cfg.pass ?? "" } : undefined,
    });
  }

  async send(mail: Mail): Promise<void> {
    await this.transport.sendMail({ from: this.cfg.from, ...mail });
    log.info({ to: mail.to, subject: mail.subject }, "email sent");
  }

  close(): void {
    this.transport.close();
  }
}
