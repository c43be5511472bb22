/**
 * argon2id against the reference implementation's known answers (phc-winner-argon2 src/test.c,
 * argon2id v1.3; the 4-lane rows from libargon2 through Debian's python3-argon2), and the cost
 * parameters hoard uses.
 */
import test from 'ava';

import { InvalidArgumentError } from '../dist/errors.js';
import { argon2id, argon2Params, kdfParams } from '../dist/native.js';

const PASSWORD = Buffer.from('password');
const SOMESALT = Buffer.from('somesalt');

const KNOWN_ANSWERS: [number, number, number, string, string, string][] = [
  // [t, log2(m KiB), p, password, salt, hex]
  [2, 16, 1, 'password', 'somesalt', '09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7'],
  [2, 8, 1, 'password', 'somesalt', '9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe'],
  [2, 8, 2, 'password', 'somesalt', '6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037'],
  [1, 16, 1, 'password', 'somesalt', 'f6a5adc1ba723dddef9b5ac1d464e180fcd9dffc9d1cbf76cca2fed795d9ca98'],
  [4, 16, 1, 'password', 'somesalt', '9025d48e68ef7395cca9079da4c4ec3affb3c8911fe4f86d1a2520856f63172c'],
  [2, 16, 1, 'differentpassword', 'somesalt', '0b84d652cf6b0c4beaef0dfe278ba6a80df6696281d7e0d2891b817d8c458fde'],
  [2, 16, 1, 'password', 'diffsalt', 'bdf32b05ccc42eb15d58fd19b1f856b113da1e9a5874fdcc544308565aa8141c'],
  // The default costs, and the old default (one lane) that existing keys keep.
  [3, 16, 4, 'password', 'somesalt', '661fefbd6f29bcbc8f4646abc32a9d7a4645bb5c059537f8a5587f31adbecccd'],
  [3, 16, 1, 'mypassphrase', 'SSSSSSSSSSSSSSSS', '871260a34e9c0767f4e819529c64a3784b3d9f8fdb35549e3e8b4ac3d89e1cb7'],
];

for (const [timeCost, logM, parallelism, pwd, salt, hex] of KNOWN_ANSWERS) {
  test(`argon2id t=${timeCost} m=2^${logM} p=${parallelism} "${pwd}"/"${salt}" matches the reference implementation`, async (t) => {
    const out = await argon2id(Buffer.from(pwd), Buffer.from(salt), { timeCost, memoryKib: 2 ** logM, parallelism });
    t.true(Buffer.isBuffer(out));
    t.is(out.toString('hex'), hex);
  });
}

test('argon2Params: the default costs are three passes over 64 MiB in 4 lanes; weak ones are the cheapest for 4 lanes', (t) => {
  t.deepEqual(argon2Params(false), { timeCost: 3, memoryKib: 65536, parallelism: 4 });
  t.deepEqual(argon2Params(true), { timeCost: 1, memoryKib: 32, parallelism: 4 });
});

test('kdfParams weakens the costs only under HOARD_TESTONLY_WEAKEN_KDF=1 or BORG_TESTONLY_WEAKEN_KDF=1', (t) => {
  const strong = { timeCost: 3, memoryKib: 65536, parallelism: 4 };
  const weak = { timeCost: 1, memoryKib: 32, parallelism: 4 };
  t.deepEqual(kdfParams({}), strong);
  t.deepEqual(kdfParams({ HOARD_TESTONLY_WEAKEN_KDF: '1' }), weak);
  t.deepEqual(kdfParams({ BORG_TESTONLY_WEAKEN_KDF: '1' }), weak);
  t.deepEqual(kdfParams({ HOARD_TESTONLY_WEAKEN_KDF: '0' }), strong);
  t.deepEqual(kdfParams({ HOARD_TESTONLY_WEAKEN_KDF: 'yes' }), strong);
  t.deepEqual(kdfParams({ BORG_TESTONLY_WEAKEN_KDF: '' }), strong);
  // hoard's own variable decides when both are set.
  t.deepEqual(kdfParams({ HOARD_TESTONLY_WEAKEN_KDF: '0', BORG_TESTONLY_WEAKEN_KDF: '1' }), strong);
  t.deepEqual(kdfParams({ HOARD_TESTONLY_WEAKEN_KDF: '1', BORG_TESTONLY_WEAKEN_KDF: '0' }), weak);
  t.deepEqual(kdfParams({ HOARD_TESTONLY_WEAKEN_KDF: undefined, BORG_TESTONLY_WEAKEN_KDF: '1' }), weak, 'an unset HOARD_ variable defers to BORG_');
});

test('argon2id with the weak costs is deterministic and depends on every input', async (t) => {
  const weak = argon2Params(true);
  const a = await argon2id(PASSWORD, SOMESALT, weak);
  t.is(a.length, 32);
  t.deepEqual(await argon2id(Buffer.from('password'), Buffer.from('somesalt'), weak), a);
  const variants = await Promise.all([
    argon2id(Buffer.from('passwore'), SOMESALT, weak),
    argon2id(PASSWORD, Buffer.from('somesalu'), weak),
    argon2id(PASSWORD, Buffer.from('somesalt!'), weak),
    argon2id(Buffer.alloc(0), SOMESALT, weak),
    argon2id(Buffer.from('p\u00e4ssw\u00f6rd \u{1f511}'), SOMESALT, weak),
    argon2id(Buffer.from([0xff, 0xfe, 0x00, 0x80]), SOMESALT, weak),
    argon2id(PASSWORD, SOMESALT, { ...weak, timeCost: 2 }),
    argon2id(PASSWORD, SOMESALT, { ...weak, memoryKib: 64 }),
    argon2id(PASSWORD, SOMESALT, { ...weak, parallelism: 1 }),
    argon2id(PASSWORD, SOMESALT, { timeCost: 1, memoryKib: 16, parallelism: 2 }),
  ]);
  const all = new Set([a, ...variants].map((k) => k.toString('hex')));
  t.is(all.size, variants.length + 1, 'every variant derives another key');
  t.true(variants.every((k) => k.length === 32));
});

test('argon2id refuses salts under 8 bytes and impossible costs', async (t) => {
  const weak = argon2Params(true);
  for (const salt of [Buffer.alloc(0), Buffer.from('short'), Buffer.alloc(7)]) {
    await t.throwsAsync(argon2id(PASSWORD, salt, weak), { instanceOf: InvalidArgumentError }, `${salt.length}-byte salt`);
  }
  t.is((await argon2id(PASSWORD, Buffer.alloc(8), weak)).length, 32, 'an 8-byte salt is enough');
  for (const params of [
    { timeCost: 0, memoryKib: 8, parallelism: 1 },
    { timeCost: 1, memoryKib: 7, parallelism: 1 },
    { timeCost: 1, memoryKib: 8, parallelism: 0 },
    { timeCost: 1, memoryKib: 8, parallelism: 2 },
  ]) {
    const e = await t.throwsAsync(async () => argon2id(PASSWORD, SOMESALT, params), { instanceOf: InvalidArgumentError }, JSON.stringify(params));
    t.is(e?.code, 'HOARD_INVALID_ARGUMENT');
  }
});
