// Images to the pixels the model module takes, in a model worker (pkg/model-worker.js), so that
// decoding runs in the pool beside embedding.
//
// Images arrive as encoded bytes (Blob, File, ArrayBuffer, Uint8Array) or as pixels (ImageData,
// ImageBitmap); the model takes RGBA pixels. Encoded images are decoded here by the browser
// (PNG, JPEG, WebP, GIF, AVIF), upright as their EXIF orientation says, without colour
// management, transparency composited on white. An image of more than MAX_PIXELS pixels is
// scaled down here (aspect kept) to fit, before its pixels are copied into the model module,
// which then resizes it to the network's input as any other.

import { fail } from './protocol.js';

/** The most pixels an image keeps before it is scaled down (aspect kept). */
export const MAX_PIXELS = 4096 * 4096;

/** RGBA pixels `{ rgba, width, height }` of `image`; `index` is its place in its batch. */
export async function toPixels(image, index) {
  if (image instanceof ArrayBuffer || image instanceof Uint8Array) image = new Blob([image]);
  if (typeof Blob !== 'undefined' && image instanceof Blob) {
    try {
      image = await createImageBitmap(image, { imageOrientation: 'from-image', colorSpaceConversion: 'none' });
    } catch (e) {
      throw fail('model', `image ${index} of the batch: could not decode image (${e.message})`);
    }
  }
  if (image && image.width * image.height > MAX_PIXELS) image = await shrink(image, index);
  if (typeof ImageBitmap !== 'undefined' && image instanceof ImageBitmap) {
    const canvas = new OffscreenCanvas(image.width, image.height);
    const context = canvas.getContext('2d');
    context.fillStyle = '#fff';
    context.fillRect(0, 0, image.width, image.height);
    context.drawImage(image, 0, 0);
    image.close();
    image = context.getImageData(0, 0, canvas.width, canvas.height);
  }
  if (image && image.data instanceof Uint8ClampedArray) {
    const { data, width, height } = image;
    return { rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
  }
  throw fail('input', 'an image must be a Blob, File, ArrayBuffer, Uint8Array, ImageData or ImageBitmap');
}

/** `image` (an ImageBitmap or RGBA pixels) scaled down to MAX_PIXELS pixels at most, as an ImageBitmap. */
async function shrink(image, index) {
  const { width, height } = image;
  const scale = Math.sqrt(MAX_PIXELS / (width * height));
  const [w, h] = [Math.max(1, Math.floor(width * scale)), Math.max(1, Math.floor(height * scale))];
  try {
    const source = image instanceof ImageBitmap || image instanceof ImageData ? image : new ImageData(image.data, width, height);
    const small = await createImageBitmap(source, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' });
    image.close?.();
    return small;
  } catch (e) {
    throw fail('model', `image ${index} of the batch: could not scale its ${width}×${height} pixels down to ${w}×${h} (${e.message})`);
  }
}

/**
 * A batch of images as the model module takes it: each decoded to pixels, then all packed in
 * one RGBA buffer, with each width and height.
 */
export async function packImages(images) {
  const pixels = await Promise.all(images.map((image, i) => toPixels(image, i)));
  const rgba = new Uint8Array(pixels.reduce((n, image) => n + image.rgba.length, 0));
  pixels.reduce((offset, image) => (rgba.set(image.rgba, offset), offset + image.rgba.length), 0);
  return { rgba, sizes: pixels.flatMap(({ width, height }) => [width, height]) };
}
