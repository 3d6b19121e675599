import "./quiet";
import { createServer, type Server, type Socket } from "node:net";
import { expect } from "chai";
import { SmtpMailer } from "@atplatform/registrar";

/** Just enough SMTP (RFC 5321) to accept one message: a real TCP conversation. */
function smtpServer(received: string[]): Server {
  return createServer((socket: Socket) => {
    let buf = "";
    let inData = false;
    let message = "";
    socket.write("220 test ESMTP\r\n");
    socket.on("data", (d) => {
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
        if (verb === "EHLO") socket.write("250-test\r\n250 8BITMIME\r\n");
        else if (verb === "HELO" || verb === "MAIL" || verb === "RCPT") socket.write("250 OK\r\n");
        else if (verb === "DATA") {
          inData = true;
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") socket.end("221 bye\r\n");
        else socket.write("502 not implemented\r\n");
      }
    });
    socket.on("error", () => undefined);
  });
}

describe("registrar SMTP mailer", function () {
  it("delivers the one-time code email over SMTP", async () => {
    const received: string[] = [];
    const server = smtpServer(received);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const mailer = new SmtpMailer({
      host: "127.0.0.1",
      port,
      secure: false,
      from: "registrar@example.com",
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
});
