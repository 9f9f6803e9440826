// Turning a user's file into pixels, with friendly errors instead of exceptions: not an image,
// a damaged image, an empty or a huge one. Browser only (createImageBitmap + canvas).

import { rgbaToRgb } from './preprocess';

export type ImageProblem = 'empty' | 'not_image' | 'corrupt' | 'too_large';

export class ImageInputError extends Error {
  override name = 'ImageInputError';
  constructor(
    readonly problem: ImageProblem,
    message: string,
  ) {
    super(message);
  }
}

/** Same limit as the Python side (src/tinycats/data/images.py): decompression bombs are refused. */
export const MAX_PIXELS = 80_000_000;
export const MAX_FILE_BYTES = 60 * 1024 * 1024;
/** Above this, the browser shrinks while decoding (fast, memory-safe) before the exact resize. */
const DIRECT_PIXELS = 16_000_000;

export function sniffImageType(head: Uint8Array): string | null {
  const s = (o: number, txt: string) => [...txt].every((c, i) => head[o + i] === c.charCodeAt(0));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head[0] === 0x89 && s(1, 'PNG')) return 'png';
  if (s(0, 'GIF8')) return 'gif';
  if (s(0, 'RIFF') && s(8, 'WEBP')) return 'webp';
  if (s(0, 'BM')) return 'bmp';
  if (s(4, 'ftyp')) return 'avif/heic';
  if (s(0, '<svg') || s(0, '<?xml')) return 'svg';
  if (head[0] === 0 && head[1] === 0 && head[2] === 1 && head[3] === 0) return 'ico';
  return null;
}

/**
 * Width and height from the file header (PNG, GIF, BMP, WebP, JPEG), without decoding, so that a
 * decompression bomb is refused before the browser allocates its pixels. null when unknown.
 */
export function headerSize(head: Uint8Array): [number, number] | null {
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const type = sniffImageType(head);
  try {
    if (type === 'png') return [dv.getUint32(16), dv.getUint32(20)];
    if (type === 'gif') return [dv.getUint16(6, true), dv.getUint16(8, true)];
    if (type === 'bmp') return [Math.abs(dv.getInt32(18, true)), Math.abs(dv.getInt32(22, true))];
    if (type === 'webp') {
      const kind = String.fromCharCode(head[12]!, head[13]!, head[14]!, head[15]!);
      if (kind === 'VP8X') return [1 + (dv.getUint32(24, true) & 0xffffff), 1 + (dv.getUint32(27, true) & 0xffffff)];
      if (kind === 'VP8 ') return [dv.getUint16(26, true) & 0x3fff, dv.getUint16(28, true) & 0x3fff];
      if (kind === 'VP8L') {
        const b = dv.getUint32(21, true);
        return [1 + (b & 0x3fff), 1 + ((b >>> 14) & 0x3fff)];
      }
      return null;
    }
    if (type === 'jpeg') {
      let o = 2;
      while (o + 9 < head.length) {
        if (head[o] !== 0xff) return null;
        const marker = head[o + 1]!;
        if (marker === 0xff) {
          o++;
          continue;
        }
        const len = dv.getUint16(o + 2);
        // SOF0..SOF15 except DHT (c4), JPG (c8), DAC (cc)
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
          return [dv.getUint16(o + 7), dv.getUint16(o + 5)];
        }
        o += 2 + len;
      }
    }
  } catch {
    return null;
  }
  return null;
}

export function describeSize(w: number, h: number): string {
  return `${w} x ${h} (${((w * h) / 1e6).toFixed(1)} megapixels)`;
}

export interface DecodedImage {
  rgb: Uint8Array;
  w: number;
  h: number;
  /** size of the original image */
  origW: number;
  origH: number;
  type: string;
}

function canvasPixels(bitmap: ImageBitmap): Uint8ClampedArray {
  const w = bitmap.width;
  const h = bitmap.height;
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(w, h) : Object.assign(document.createElement('canvas'), { width: w, height: h });
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new ImageInputError('corrupt', 'this browser could not open a canvas to read the image');
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, w, h).data;
}

/** Decode any image the browser can read into packed RGB (alpha composited on white). */
export async function decodeImage(blob: Blob, targetSize: number): Promise<DecodedImage> {
  if (blob.size === 0) throw new ImageInputError('empty', 'This file is empty (0 bytes).');
  if (blob.size > MAX_FILE_BYTES) {
    throw new ImageInputError('too_large', `This file is ${(blob.size / 1024 / 1024).toFixed(0)} MB; please use an image under ${MAX_FILE_BYTES / 1024 / 1024} MB.`);
  }
  const head = new Uint8Array(await blob.slice(0, 256 * 1024).arrayBuffer());
  const type = sniffImageType(head);
  const declared = headerSize(head);
  if (declared && declared[0] * declared[1] > MAX_PIXELS) {
    throw new ImageInputError('too_large', `This image is ${describeSize(declared[0], declared[1])}, over the ${MAX_PIXELS / 1e6} megapixel limit. Please use a smaller one.`);
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    if (type === null) throw new ImageInputError('not_image', 'This file is not an image. Try a JPEG, PNG, WebP or GIF photo of a cat.');
    throw new ImageInputError('corrupt', `This ${type.toUpperCase()} file looks damaged and could not be decoded. Try another photo.`);
  }
  const origW = bitmap.width;
  const origH = bitmap.height;
  if (origW === 0 || origH === 0) {
    bitmap.close();
    throw new ImageInputError('corrupt', 'This image has no pixels.');
  }
  if (origW * origH > MAX_PIXELS) {
    bitmap.close();
    throw new ImageInputError('too_large', `This image is ${describeSize(origW, origH)}, over the ${MAX_PIXELS / 1e6} megapixel limit. Please use a smaller one.`);
  }
  if (origW * origH > DIRECT_PIXELS) {
    bitmap.close();
    const scale = (3 * targetSize) / Math.min(origW, origH);
    bitmap = await createImageBitmap(blob, {
      resizeWidth: Math.max(1, Math.round(origW * scale)),
      resizeHeight: Math.max(1, Math.round(origH * scale)),
      resizeQuality: 'high',
    });
  }
  try {
    const rgba = canvasPixels(bitmap);
    return { rgb: rgbaToRgb(rgba, bitmap.width, bitmap.height), w: bitmap.width, h: bitmap.height, origW, origH, type: type ?? 'image' };
  } finally {
    bitmap.close();
  }
}
