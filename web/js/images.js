// images.js: which URL of a photo to show.
//
// A photo may carry images: {thumbnail, low, standard, full}, each
// {url, width, height}; older objects have only image_url.  URLs are opaque
// (they may be signed): used as given.

const ORDER = ['thumbnail', 'low', 'standard', 'full'];

export function imageUrl(photo, size = 'standard') {
  const im = photo && photo.images;
  if (im) {
    if (im[size] && im[size].url) return im[size].url;
    // the nearest larger one, then any
    const start = ORDER.indexOf(size);
    for (const s of ORDER.slice(start + 1).concat(ORDER.slice(0, start).reverse())) {
      if (im[s] && im[s].url) return im[s].url;
    }
  }
  return photo.image_url;
}

// srcset of every size there is, or '' without images.
export function srcset(photo) {
  const im = photo && photo.images;
  if (!im) return '';
  return ORDER.filter((s) => im[s] && im[s].url && im[s].width)
    .map((s) => `${im[s].url} ${im[s].width}w`)
    .join(', ');
}

// An <img> of the photo: src of the given size, srcset when there are
// several, and its size so the layout does not jump as it loads.
export function imgAttrs(photo, size, sizes) {
  const attrs = {
    src: imageUrl(photo, size),
    alt: photo.caption || 'photo by ' + ((photo.user && photo.user.username) || 'someone'),
    loading: 'lazy',
    decoding: 'async',
  };
  const set = srcset(photo);
  if (set && sizes) {
    attrs.srcset = set;
    attrs.sizes = sizes;
  }
  if (photo.width && photo.height) {
    attrs.width = String(photo.width);
    attrs.height = String(photo.height);
  }
  return attrs;
}
