"""Data: folders, zips, arrays and the embedded demo datasets into tf.data; up-front file
checks, safe zip extraction and augmentation."""
