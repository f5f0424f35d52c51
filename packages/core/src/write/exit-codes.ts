/** Exit code of the exit writer when a store is still held by the exiting process itself (EX_TEMPFAIL): its successor writes it. */
export const HELD_BY_PARENT = 75;
