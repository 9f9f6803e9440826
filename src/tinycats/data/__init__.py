"""Data: sources (Oxford-IIIT Pet, labeled folders), decoding, the uint8 cache, augmentation."""
