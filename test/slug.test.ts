import { describe, expect, it } from 'vitest';
import { deriveSlug, slugCandidate, viewerSessionName } from '../src/core/slug.js';

describe('worktree slugs', () => {
  it.each([
    ['Improve the gallery experience for artist profile pages', 'improve-gallery'],
    ['feature-refresh', 'feature-refresh'],
    ['$(touch x) --help', 'touch-x'],
    ['--help', 'help'],
    ['Café crème brûlée', 'cafe-creme'],
    ['로그인 버그 수정', 'rogeuin-beogeu'],
    ['Исправить вход', 'ispravit-vkhod'],
    ['テスト ログ', 'tesuto-ro'],
    ['the a an', 'the-a'],
  ])('%s → %s', (request, slug) => {
    expect(deriveSlug(undefined, request)).toBe(slug);
  });

  it('prefers the worktree name, falls back readably, and never to a bare collision', () => {
    expect(deriveSlug('Auth Fix', 'something else')).toBe('auth-fix');
    expect(deriveSlug('   ', 'login page')).toBe('login-page');
    expect(deriveSlug(undefined, undefined)).toBe('work');
    const a = deriveSlug(undefined, '🚀 launch');
    expect(a).toBe('launch');
    const b = deriveSlug(undefined, '修复登录');
    const c = deriveSlug(undefined, '修复注册');
    expect(b).toMatch(/^work-[0-9a-f]{6}$/);
    expect(b).not.toBe(c);
    expect(deriveSlug(undefined, 'x'.repeat(100))).toHaveLength(20);
  });

  it('suffixes collisions and builds tmux-safe viewer names', () => {
    expect([0, 1, 2].map((n) => slugCandidate('auth', n))).toEqual(['auth', 'auth-2', 'auth-3']);
    expect(viewerSessionName('My.Repo:v2', 'auth')).toBe('my-repo-v2-auth');
  });
});
