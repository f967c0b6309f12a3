// Real media files for the analyzer tests, made in code so every expected value
// (dimensions, durations, text, EXIF) is known: images with sharp, a PDF and a
// DOCX written byte by byte, a WAV from samples, MP3 and video with the bundled
// ffmpeg (lavfi testsrc and sine sources), and hostile inputs (a truncated PNG,
// a PNG that declares a 100000 x 100000 canvas in a few hundred bytes).
import { execFile } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import { bundledMediaTools } from "../../src/processing/media-tools.ts";

const run = promisify(execFile);

export const GPS = { latitude: 48.1416667, longitude: -11.5666667 }; // 48°8'30" N, 11°34' W

/** 1600x1200 PNG stored landscape with EXIF orientation 6 (display: 1200x1600 portrait), camera fields and GPS. */
export async function pngWithExif(file: string): Promise<string> {
  const image = sharp({ create: { width: 1600, height: 1200, channels: 3, background: { r: 200, g: 30, b: 30 } } });
  // sharp writes Orientation from withMetadata, and ignores one passed in the EXIF object.
  await image
    .png()
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: "Cabinet Optics", Model: "TestCam 1", Software: "secret-tool 1.0", Artist: "Jane Roe" },
      IFD2: { DateTimeOriginal: "2024:05:06 07:08:09", LensModel: "Fix 35mm f/2", BodySerialNumber: "SN-12345" },
      IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 8/1 30/1", GPSLongitudeRef: "W", GPSLongitude: "11/1 34/1 0/1" },
    })
    .toFile(file);
  return file;
}

/** 800x600 JPEG, no orientation tag, a camera make. */
export async function jpeg(file: string): Promise<string> {
  const gradient = Buffer.alloc(800 * 600 * 3);
  for (let i = 0; i < 800 * 600; i++) {
    gradient[i * 3] = (i % 800) >> 2;
    gradient[i * 3 + 1] = Math.floor(i / 800) >> 2;
    gradient[i * 3 + 2] = 128;
  }
  await sharp(gradient, { raw: { width: 800, height: 600, channels: 3 } })
    .jpeg({ quality: 85 })
    .withExif({ IFD0: { Make: "JpegMaker" } })
    .toFile(file);
  return file;
}

/** The first bytes of a valid PNG followed by garbage: a signature and header that promise more than there is. */
export async function corruptPng(file: string): Promise<string> {
  const good = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#336699" } })
    .png()
    .toBuffer();
  await writeFile(file, Buffer.concat([good.subarray(0, 40), Buffer.from("this is not deflate data at all".repeat(4))]));
  return file;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([len, typeAndData, crc]);
}

/** A valid-looking PNG declaring `width` x `height` 8-bit grey pixels with only a few rows of (compressible) data. */
export async function pngBomb(file: string, width = 100_000, height = 100_000): Promise<string> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = deflateSync(Buffer.alloc((width + 1) * 4)); // four zero rows (filter byte + pixels)
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", rows),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
  await writeFile(file, png);
  return file;
}

/** A PDF 1.4 with one page per string of `pages` (Helvetica text) and an Info dictionary. */
export async function pdf(file: string, pages: string[], info: { title?: string; author?: string } = {}): Promise<string> {
  const esc = (s: string) => s.replace(/[\\()]/g, (c) => `\\${c}`);
  const objects: string[] = [];
  objects[1] = "<< /Type /Catalog /Pages 2 0 R >>";
  objects[2] = `<< /Type /Pages /Kids [${pages.map((_, i) => `${5 + i * 2} 0 R`).join(" ")}] /Count ${pages.length} >>`;
  objects[3] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
  objects[4] = `<< ${info.title ? `/Title (${esc(info.title)}) ` : ""}${info.author ? `/Author (${esc(info.author)}) ` : ""}>>`;
  pages.forEach((text, i) => {
    const content = `BT /F1 24 Tf 72 720 Td (${esc(text)}) Tj ET`;
    objects[5 + i * 2] = `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${6 + i * 2} 0 R >>`;
    objects[6 + i * 2] = `<< /Length ${Buffer.byteLength(content)} >>\nstream\n${content}\nendstream`;
  });
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  for (let i = 1; i < objects.length; i++) {
    offsets[i] = Buffer.byteLength(out, "latin1");
    out += `${i} 0 obj\n${objects[i]}\nendobj\n`;
  }
  const xref = Buffer.byteLength(out, "latin1");
  out += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let i = 1; i < objects.length; i++) out += `${String(offsets[i]).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length} /Root 1 0 R /Info 4 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  await writeFile(file, Buffer.from(out, "latin1"));
  return file;
}

/** A zip of stored (uncompressed) entries; `declaredSize` overrides an entry's uncompressed size in the directory (a lying zip). */
export function zip(entries: { name: string; data: Buffer | string; declaredSize?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data, "utf8");
    const name = Buffer.from(e.name, "utf8");
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(e.declaredSize ?? data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** The smallest DOCX mammoth reads: content types, the package relationship, and the document with one paragraph per string. */
export async function docx(file: string, paragraphs: string[], options: { declaredDocumentSize?: number } = {}): Promise<string> {
  const xmlEsc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const body = paragraphs.map((p) => `<w:p><w:r><w:t xml:space="preserve">${xmlEsc(p)}</w:t></w:r></w:p>`).join("");
  await writeFile(
    file,
    zip([
      {
        name: "[Content_Types].xml",
        data:
          '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
          '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      },
      {
        name: "_rels/.rels",
        data:
          '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
          '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
      },
      {
        name: "word/document.xml",
        data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`,
        ...(options.declaredDocumentSize !== undefined ? { declaredSize: options.declaredDocumentSize } : {}),
      },
    ]),
  );
  return file;
}

/** 16-bit PCM WAV: a 440 Hz tone of exactly `seconds` at `sampleRate`, `channels` channels. */
export async function wav(file: string, seconds: number, sampleRate = 8000, channels = 1): Promise<string> {
  const frames = Math.round(seconds * sampleRate);
  const dataBytes = frames * channels * 2;
  const b = Buffer.alloc(44 + dataBytes);
  b.write("RIFF", 0, "ascii");
  b.writeUInt32LE(36 + dataBytes, 4);
  b.write("WAVE", 8, "ascii");
  b.write("fmt ", 12, "ascii");
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * channels * 2, 28);
  b.writeUInt16LE(channels * 2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36, "ascii");
  b.writeUInt32LE(dataBytes, 40);
  for (let f = 0; f < frames; f++) {
    const v = Math.round(Math.sin((2 * Math.PI * 440 * f) / sampleRate) * 12000);
    for (let c = 0; c < channels; c++) b.writeInt16LE(v, 44 + (f * channels + c) * 2);
  }
  await writeFile(file, b);
  return file;
}

async function ffmpeg(args: string[]): Promise<void> {
  const { ffmpeg } = await bundledMediaTools();
  await run(ffmpeg, ["-v", "error", "-nostdin", "-y", ...args]);
}

/** MP3 (44.1 kHz stereo, 128 kbit/s CBR, with ID3 tags) of a `seconds` sine made by ffmpeg. */
export async function mp3(file: string, seconds: number, tags: { title: string; artist: string; album: string }): Promise<string> {
  await ffmpeg([
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=440:duration=${seconds}:sample_rate=44100`,
    "-ac",
    "2",
    "-c:a",
    "libmp3lame",
    "-b:a",
    "128k",
    ...Object.entries(tags).flatMap(([k, v]) => ["-metadata", `${k}=${v}`]),
    file,
  ]);
  return file;
}

/**
 * H.264 (+ AAC) MP4 of ffmpeg's test pattern, `width` x `height` at 25 fps. `clockwise` makes
 * players turn it by that many degrees: written as a display matrix in a second, copying pass
 * (this ffmpeg 4.1 ignores `rotate` while encoding, and its muxer reads the tag counter-clockwise:
 * rotate=270 is what ffprobe then reports as rotation -90, i.e. a quarter turn clockwise).
 */
export async function video(file: string, opts: { seconds: number; width: number; height: number; clockwise?: 90 | 270; audio?: boolean }): Promise<string> {
  const encoded = opts.clockwise ? `${file}.plain.mp4` : file;
  const args = ["-f", "lavfi", "-i", `testsrc=duration=${opts.seconds}:size=${opts.width}x${opts.height}:rate=25`];
  if (opts.audio !== false) args.push("-f", "lavfi", "-i", `sine=frequency=300:duration=${opts.seconds}`);
  args.push("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
  if (opts.audio !== false) args.push("-c:a", "aac", "-b:a", "64k", "-shortest");
  await ffmpeg([...args, encoded]);
  if (opts.clockwise) {
    await ffmpeg(["-i", encoded, "-c", "copy", "-metadata:s:v:0", `rotate=${360 - opts.clockwise}`, file]);
    await rm(encoded);
  }
  return file;
}
