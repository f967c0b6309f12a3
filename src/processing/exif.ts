// The EXIF fields we keep: an allow-list, because EXIF carries serial numbers,
// owner names, software and location. Location (GPS) only when the deployment
// opts in with `storeGps`. A malformed EXIF block loses its fields, not the image.
import exifReader from "exif-reader";
import type { ExifFields } from "./analyzer.ts";

const MAX_FIELD = 200;

export function pickExif(raw: Buffer | undefined, options: { storeGps: boolean }): ExifFields {
  if (!raw) return {};
  let tags: exifReader.Exif;
  try {
    tags = exifReader(raw);
  } catch {
    return {};
  }
  const fields: ExifFields = {};
  const make = text(tags.Image?.Make);
  const model = text(tags.Image?.Model);
  const lens = text(tags.Photo?.LensModel);
  const takenAt = dateTime(tags.Photo?.DateTimeOriginal ?? tags.Image?.DateTime);
  if (make) fields.make = make;
  if (model) fields.model = model;
  if (lens) fields.lens = lens;
  if (takenAt) fields.takenAt = takenAt;
  if (options.storeGps) {
    const gps = tags.GPSInfo;
    const latitude = degrees(gps?.GPSLatitude, gps?.GPSLatitudeRef, "S");
    const longitude = degrees(gps?.GPSLongitude, gps?.GPSLongitudeRef, "W");
    if (latitude !== undefined && longitude !== undefined) {
      fields.gps = { latitude, longitude };
      const alt = gps?.GPSAltitude;
      if (typeof alt === "number" && Number.isFinite(alt)) fields.gps.altitude = gps?.GPSAltitudeRef === 1 ? -alt : alt;
    }
  }
  return fields;
}

function text(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const s = v.replace(/\0/g, "").trim();
  return s ? s.slice(0, MAX_FIELD) : undefined;
}

/** exif-reader reads the zone-less EXIF time as UTC; we keep it zone-less. */
function dateTime(v: unknown): string | undefined {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) return undefined;
  return v.toISOString().slice(0, 19);
}

function degrees(dms: unknown, ref: unknown, negativeRef: string): number | undefined {
  if (!Array.isArray(dms) || dms.length !== 3 || !dms.every((n) => typeof n === "number" && Number.isFinite(n))) return undefined;
  const [d, m, s] = dms as [number, number, number];
  const value = d + m / 60 + s / 3600;
  if (value > 180) return undefined;
  return Math.round((ref === negativeRef ? -value : value) * 1e7) / 1e7;
}
