// The two SQL dialects prewarm runs on. Named here, alone, so that every module (migrations included) can
// name the dialect without importing the store.
export type Dialect = "sqlite" | "postgres";
