// OCI image layers: decompression, safe unpacking and flattening.
export { compressionFromMagic, compressionFromMediaType, decompressor, LayerDecoder, ZstdDecompressStream, type LayerCompression } from './layer-media.js';
export { normalizeEntryPath, unpackLayer, WHITEOUT_RECORD, type LayerLimits, type UnpackOptions, type UnpackStats, type WhiteoutRecord } from './unpack-layer.js';
export { flattenLayers, type FlattenStats } from './flatten-layers.js';
