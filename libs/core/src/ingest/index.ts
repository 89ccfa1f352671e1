// Pure logic of the ingest side (address syntax, smuggling checks, limits).
export {};
