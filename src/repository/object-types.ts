/**
 * The object type byte bound into every sealed blob's associated data (docs/format.md), so that a
 * blob of one kind can never be passed off as another.
 */
export const ObjectType = {
  /** File data. */
  chunk: 0,
  /** A directory's items. */
  tree: 1,
  /** An archive's metadata. */
  archive: 2,
  /** A manifest generation. */
  manifest: 3,
  /** An index object. */
  index: 4,
  /** A pack's table of contents. */
  packToc: 5,
  /** A sealed master key. */
  key: 6,
} as const;
