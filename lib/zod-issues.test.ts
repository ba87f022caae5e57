import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeIssues } from './zod-issues.ts';

const Schema = z.strictObject({ port: z.number().int(), name: z.string().min(1) });
const issues = Schema.safeParse({ port: 1.5, name: '', extra: 1 }).error!.issues;

describe('describeIssues', () => {
  it.each([
    ['one line', {}, /^port: .*; name: .*; \(root\): Unrecognized key/],
    ['a list', { list: true }, /^ {2}- port: .*\n {2}- name: .*\n {2}- \(root\): /],
    ['a body', { prefix: 'body' }, /^body\.port: .*; body\.name: .*; body: Unrecognized key/],
    ['at most two', { max: 2 }, /; … and 1 more$/],
    ['with where', { where: () => 'line 7' }, /^line 7 port: /],
  ] as const)('%s', (_n, style, want) => {
    expect(describeIssues(issues, style)).toMatch(want);
  });
});
