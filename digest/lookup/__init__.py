"""Finding councils: postcodes (through a postcodes.io-compatible API) and places."""
