// bench/report/table.ts: the terminal tables. Every number shown is a measured one or a ratio of
// two; a case that did not run shows why (n/a, missing, a numbered footnote) instead of a number.
import { describe, expect, test } from 'vitest';
import { num, pipesTables, ratio, renderTable } from '../../bench/report/table.js';
import { headersOf, pipesResult, rowWhere, sectionOf, tableOf } from './fixtures.js';

describe('renderTable', () => {
  test('pads each column to its widest cell, names left and numbers right', () => {
    expect(
      renderTable(
        ['name', 'n'],
        [
          ['a', '1'],
          ['long', '100'],
        ],
        ['l', 'r'],
      ),
    ).toBe(['name    n', '----  ---', 'a       1', 'long  100'].join('\n'));
  });

  test('drops the padding a left-aligned last column would leave at the end of a line', () => {
    const lines = renderTable(['k', 'v'], [['1', 'long']], ['r', 'l']).split('\n');
    expect(lines).toEqual(['k  v', '-  ----', '1  long']);
  });
});

describe('num', () => {
  test.each([
    [50000, '50,000'],
    [1234.5, '1,235'],
    [123.4, '123'],
    [12.34, '12.3'],
    [1.234, '1.23'],
    [0.1234, '0.123'],
    [0, '0.000'],
    [-12.34, '-12.3'],
    [-4321, '-4,321'],
    // Values that round up into the next format keep three figures.
    [999.6, '1,000'],
    [99.96, '100'],
    [9.996, '10.0'],
    [0.9996, '1.00'],
  ])('%s is shown as %s (three significant figures, no exponent)', (x, shown) => {
    expect(num(x)).toBe(shown);
  });
});

describe('ratio', () => {
  test.each([
    [3, 2, '1.50x'],
    [1, 3, '0.33x'],
    [0, 2, '0.00x'],
  ])('%s / %s is %s', (a, b, shown) => {
    expect(ratio(a, b)).toBe(shown);
  });

  test.each([
    [null, 2],
    [2, null],
    [undefined, 2],
    [2, undefined],
    [2, 0],
  ])('is blank for %s / %s (nothing measured to divide)', (a, b) => {
    expect(ratio(a, b)).toBe('');
  });
});

describe('pipesTables', () => {
  const results = [
    pipesResult({ impl: 'loop', backend: 'epoll', n: 10, median: 20, p10: 18, p90: 25 }),
    pipesResult({ impl: 'raw', backend: 'epoll', n: 10, median: 10 }),
    pipesResult({ impl: 'c', backend: 'epoll', n: 10, median: 5 }),
    pipesResult({ impl: 'python', backend: 'epoll', n: 10, median: 40 }),
    ...(['loop', 'raw', 'c', 'python'] as const).map((impl) =>
      pipesResult({ impl, backend: 'select', n: 10000, status: 'fd_setsize', note: 'n/a (FD_SETSIZE)' }),
    ),
    pipesResult({ impl: 'loop', backend: 'epoll', n: 50000, status: 'error', note: 'error: boom' }),
    pipesResult({ impl: 'raw', backend: 'epoll', n: 50000, status: 'error', note: 'error: boom' }),
    pipesResult({ impl: 'c', backend: 'epoll', n: 50000, status: 'fd_limit', note: 'n/a (fd limit)' }),
    pipesResult({ impl: 'python', backend: 'epoll', n: 50000, status: 'missing', note: 'python3 not found on PATH' }),
    ...(['loop', 'raw', 'c', 'python'] as const).map((impl) =>
      pipesResult({ impl, backend: 'epoll', n: 10, a: 100, w: 1000, status: 'a_gt_n', note: 'n/a (A=100 > N=10)' }),
    ),
    ...(
      [
        ['loop', 300],
        ['raw', 200],
        ['c', 100],
        ['python', 400],
      ] as const
    ).map(([impl, median]) => pipesResult({ impl, backend: 'epoll', n: 100, a: 100, w: 1000, median })),
  ];
  const text = pipesTables(results);
  const small = sectionOf(text, 'pipes  A=1 W=100:');
  const large = sectionOf(text, 'pipes  A=100 W=1000:');
  const at = (section: string, n: string, backend: string) => rowWhere(tableOf(section), { N: n, backend });

  test('shows median [p10-p90] per implementation and the ratios of medians', () => {
    expect(at(small, '10', 'epoll')).toMatchObject({
      'iomux Loop': '20.0 [18.0-25.0]',
      'iomux raw Selector': '10.0 [10.0-10.0]',
      'C reference': '5.00 [5.00-5.00]',
      'Python selectors': '40.0 [40.0-40.0]',
      'Loop/C': '4.00x',
      'raw/C': '2.00x',
      'Loop/Py': '0.50x',
      'raw/Py': '0.25x',
    });
    expect(at(large, '100', 'epoll')).toMatchObject({
      'Loop/C': '3.00x',
      'raw/C': '2.00x',
      'Loop/Py': '0.75x',
      'raw/Py': '0.50x',
    });
  });

  test('one row per (N, backend) that ran, in sweep order', () => {
    expect(tableOf(small).map((r) => `${r.N}/${r.backend}`)).toEqual(['10/epoll', '10000/select', '50000/epoll']);
    expect(tableOf(large).map((r) => `${r.N}/${r.backend}`)).toEqual(['100/epoll']);
  });

  test('says how many rounds each median is of, from the results themselves', () => {
    expect(small.split('\n')[0]).toMatch(/^pipes {2}A=1 W=100: µs per round, median \[p10-p90\] of 15 rounds\b/);
  });

  test('an FD_SETSIZE or fd-limit case shows its n/a note and no ratio', () => {
    const select = at(small, '10000', 'select');
    for (const label of ['iomux Loop', 'iomux raw Selector', 'C reference', 'Python selectors'])
      expect(select[label]).toBe('n/a (FD_SETSIZE)');
    expect([select['Loop/C'], select['raw/C'], select['Loop/Py'], select['raw/Py']]).toEqual(['', '', '', '']);
    expect(at(small, '50000', 'epoll')['C reference']).toBe('n/a (fd limit)');
  });

  test('errors and missing tools get numbered footnotes, one number per distinct note', () => {
    expect(at(small, '50000', 'epoll')).toMatchObject({
      'iomux Loop': 'error [1]',
      'iomux raw Selector': 'error [1]',
      'Python selectors': 'missing [2]',
      'Loop/C': '',
    });
    expect(text).toContain('\n  [1] error: boom\n  [2] python3 not found on PATH\n');
  });

  test('sizes with fewer pairs than active ones get one line below the table, not a row', () => {
    expect(tableOf(large).some((r) => r.N === '10')).toBe(false);
    expect(large).toContain('(N=10 not run: fewer pairs than A=100 active ones)');
  });

  test('N is right-aligned to the widest size in the table', () => {
    expect(small).toMatch(/^ {3}10 {2}epoll/m);
  });

  test('leaves out the column of an implementation that has no results at all', () => {
    const t = pipesTables([pipesResult({ impl: 'loop', backend: 'poll', n: 100, median: 3 })]);
    const headers = headersOf(t);
    expect(headers.slice(0, 3)).toEqual(['N', 'backend', 'iomux Loop']);
    for (const absent of ['iomux raw Selector', 'C reference', 'Python selectors'])
      expect(headers).not.toContain(absent);
    expect(rowWhere(tableOf(t), { N: '100', backend: 'poll' })).toMatchObject({
      'iomux Loop': '3.00 [3.00-3.00]',
      'Loop/C': '',
    });
    expect(t).not.toContain('A=100 W=1000');
  });

  test('a baseline build gets its column beside the current one and its own ratio to C', () => {
    const t = pipesTables(
      (
        [
          ['loop', 20],
          ['loop@base', 30],
          ['raw', 10],
          ['c', 5],
        ] as const
      ).map(([impl, median]) => pipesResult({ impl, backend: 'epoll', n: 10, median })),
    );
    expect(headersOf(t)).toEqual([
      'N',
      'backend',
      'iomux Loop',
      'iomux Loop@base',
      'iomux raw Selector',
      'C reference',
      'Loop/C',
      'raw/C',
      'Loop@base/C',
      'Loop/C+thr',
      'Loop/Py',
      'raw/Py',
    ]);
    expect(rowWhere(tableOf(t), { N: '10', backend: 'epoll' })).toMatchObject({
      'iomux Loop@base': '30.0 [30.0-30.0]',
      'Loop/C': '4.00x',
      'Loop@base/C': '6.00x',
    });
  });

  test('the transports column and its ratio to C show when that implementation ran', () => {
    const results = (
      [
        ['loop', 20],
        ['transport', 15],
        ['c', 5],
      ] as const
    ).map(([impl, median]) => pipesResult({ impl, backend: 'epoll', n: 10, median }));
    const t = pipesTables(results);
    expect(headersOf(t).slice(2, 7)).toEqual(['iomux Loop', 'iomux transports', 'C reference', 'Loop/C', 'Tr/C']);
    expect(rowWhere(tableOf(t), { N: '10', backend: 'epoll' })).toMatchObject({ 'Tr/C': '3.00x' });
    expect(headersOf(pipesTables(results.filter((r) => r.impl !== 'transport')))).not.toContain('Tr/C');
  });

  test('is empty when there are no results', () => {
    expect(pipesTables([])).toBe('');
  });
});
