"""Price history: the embedded demo extract, CSV files of ../shared/data format, on-chain feed rounds."""
