import QRCode from "qrcode";

/** The activation secret as an SVG QR code (`@atsign:secret`, as pairing apps expect). */
export async function qrSvg(text: string): Promise<string> {
  const svg = await QRCode.toString(text, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  // Decorative for screen readers: the same secret is on the page as text.
  return svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ');
}
