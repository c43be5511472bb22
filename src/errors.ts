/**
 * hoard's error classes. Native errors arrive as `Error`s whose message starts with a stable code
 * (`HOARD_INTEGRITY: ...`); {@link fromNative} turns them into the class for that code.
 */

/** Exit codes, as borg's: see docs/exit-codes.md. */
/** The `code` of an OS error (`ENOENT`, `EEXIST`, ...), or undefined for anything else. */
export function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

export const ExitCode = { ok: 0, warning: 1, error: 2 } as const;

/** Any error hoard reports to the user: one line, exit code 2. */
export class HoardError extends Error {
  /** The stable code, e.g. `HOARD_INTEGRITY`. */
  readonly code: string;
  /** The process exit code this error ends a command with. */
  readonly exitCode: number = ExitCode.error;

  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A parameter, spec or option value is malformed or out of range. */
export class InvalidArgumentError extends HoardError {}
/** Authentication failed: corrupted data, the wrong key, or an object that is not the one asked for. */
export class IntegrityError extends HoardError {}
/** Data is structurally broken. */
export class CorruptDataError extends HoardError {}
/** A declared size exceeds the allowed limit. */
export class TooLargeError extends HoardError {}
/** A sealing session has used up its nonces. */
export class SessionExhaustedError extends HoardError {}
/** A file or directory does not exist. */
export class NotFoundError extends HoardError {}
/** The operating system refused access. */
export class PermissionDeniedError extends HoardError {}
/** Any other operating-system error. */
export class IoError extends HoardError {}
/** A bug in hoard's native code (a task panicked). */
export class InternalError extends HoardError {}
/** The user interrupted hoard (Ctrl-C at a prompt): exit code 130, as for SIGINT. */
export class InterruptedError extends HoardError {
  override readonly exitCode: number = 130;
}
/** A repository, archive or key that is to be made exists already. */
export class ExistsError extends HoardError {}
/** The passphrase does not open the key. */
export class WrongPassphraseError extends HoardError {}
/** A repository lock could not be taken within the lock wait (borg's `LockTimeout`). */
export class LockTimeoutError extends HoardError {}
/** The user did not confirm a destructive command (borg's "Aborting."). */
export class AbortedError extends HoardError {}
/** A write would leave less free space than the repository keeps (borg's `InsufficientFreeSpaceError`). */
export class InsufficientSpaceError extends HoardError {}
/** A write would take the repository over its storage quota (borg's `StorageQuotaExceeded`). */
export class StorageQuotaError extends HoardError {}

const byCode: Record<string, new (code: string, message: string) => HoardError> = {
  HOARD_INVALID_ARGUMENT: InvalidArgumentError,
  HOARD_INTEGRITY: IntegrityError,
  HOARD_CORRUPT: CorruptDataError,
  HOARD_TOO_LARGE: TooLargeError,
  HOARD_SESSION_EXHAUSTED: SessionExhaustedError,
  HOARD_NOT_FOUND: NotFoundError,
  HOARD_PERMISSION_DENIED: PermissionDeniedError,
  HOARD_IO: IoError,
  HOARD_INTERNAL: InternalError,
  HOARD_INTERRUPTED: InterruptedError,
  HOARD_EXISTS: ExistsError,
  HOARD_WRONG_PASSPHRASE: WrongPassphraseError,
  HOARD_LOCK_TIMEOUT: LockTimeoutError,
  HOARD_NOT_A_REPOSITORY: CorruptDataError,
  HOARD_NO_SUCH_ARCHIVE: NotFoundError,
  HOARD_ABORTED: AbortedError,
  HOARD_NO_SPACE: InsufficientSpaceError,
  HOARD_QUOTA_EXCEEDED: StorageQuotaError,
};

/** The typed error for a stable code and message. */
export function errorFor(code: string, message: string): HoardError {
  const Class = byCode[code] ?? HoardError;
  return new Class(code, message);
}

/** Turns an error thrown by the native addon into its typed class; other values pass unchanged. */
export function fromNative(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const m = /^(HOARD_[A-Z_]+): ([\s\S]*)$/.exec(e.message);
  if (!m || m[1] === undefined || m[2] === undefined) return e;
  const typed = errorFor(m[1], m[2]);
  typed.stack = e.stack;
  return typed;
}
