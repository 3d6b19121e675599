import "./quiet";
import { createServer, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { expect } from "chai";
import { LogMailer, maskEmail, SmtpMailer } from "@atplatform/registrar";
import { testTls, type TestTls } from "../support/test-ca";

/**
 * Just enough SMTP (RFC 5321) to accept one message: a real TCP conversation, upgraded with
 * STARTTLS (RFC 3207) when `tls` is given; without it the server offers no STARTTLS.
 */
function smtpServer(received: string[], tls?: TestTls): Server {
  return createServer((plain: Socket) => {
    let socket: Socket = plain;
    let buf = "";
    let inData = false;
    let message = "";
    socket.write("220 test ESMTP\r\n");
    const onData = (d: Buffer): void => {
      buf += d.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\r\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            received.push(message);
            socket.write("250 OK queued\r\n");
          } else message += `${line}\n`;
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO")
          socket.write(`250-test\r\n${tls ? "250-STARTTLS\r\n" : ""}250 8BITMIME\r\n`);
        else if (line.toUpperCase() === "STARTTLS" && tls) {
          socket.write("220 go ahead\r\n");
          plain.removeListener("data", onData);
          const secure = new TLSSocket(plain, { isServer: true, cert: tls.cert, key: tls.key });
          secure.on("data", onData);
          secure.on("error", () => undefined);
          socket = secure;
          return;
        } else if (verb === "HELO" || verb === "MAIL" || verb === "RCPT")
          socket.write("250 OK\r\n");
        else if (verb === "DATA") {
          inData = true;
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") socket.end("221 bye\r\n");
        else socket.write("502 not implemented\r\n");
      }
    };
    plain.on("data", onData);
    plain.on("error", () => undefined);
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as { port: number }).port;
}

describe("registrar SMTP mailer", function () {
  it("delivers the one-time code email over SMTP after STARTTLS", async () => {
    const tls = await testTls();
    const received: string[] = [];
    const server = smtpServer(received, tls);
    const port = await listen(server);
    const mailer = new SmtpMailer({
      host: "127.0.0.1",
      port,
      secure: false,
      from: "registrar@example.com",
      ca: tls.ca,
    });
    try {
      await mailer.send({ to: "person@example.com", subject: "Your code", text: "code 123456" });
    } finally {
      mailer.close();
      server.close();
    }
    expect(received).to.have.length(1);
    expect(received[0]).to.contain("To: person@example.com");
    expect(received[0]).to.contain("Subject: Your code");
    expect(received[0]).to.contain("code 123456");
  });

  it("Low: a server (or a man in the middle) that offers no STARTTLS gets no code in clear", async () => {
    const received: string[] = [];
    const server = smtpServer(received);
    const port = await listen(server);
    const mailer = new SmtpMailer({
      host: "127.0.0.1",
      port,
      secure: false,
      from: "r@example.com",
    });
    let error = "";
    try {
      await mailer
        .send({ to: "person@example.com", subject: "Your code", text: "code 654321" })
        .catch((err: Error) => (error = err.message));
    } finally {
      mailer.close();
      server.close();
    }
    expect(error).to.match(/STARTTLS/i);
    expect(received).to.deep.equal([]);
  });
});

describe("registrar without SMTP", function () {
  it("Low: one-time codes and email addresses are not written to the log unless asked for", async () => {
    const logged: string[] = [];
    const mail = { to: "person@example.com", subject: "Your code", text: "code 135790" };
    await new LogMailer((l) => logged.push(l)).send(mail);
    expect(logged).to.have.length(1);
    expect(logged[0]).not.to.contain("135790");
    expect(logged[0]).not.to.contain("person@example.com");
    expect(logged[0]).to.contain("p***@example.com");
    // The local platform's terminal (or REGISTRAR_MAIL_TO_LOG=true) shows the message.
    await new LogMailer((l) => logged.push(l), true).send(mail);
    expect(logged[1]).to.contain("135790");
    expect(maskEmail("a@b.example")).to.equal("a***@b.example");
  });
});
