% [cA, cH, cV, cD] = dwt2(X, 'dmey') as MATLAB's Wavelet Toolbox computes it in its default dwtmode('sym'),
% written after MathWorks' documentation (the toolbox is not in Octave): the filters are orthfilt of the
% 102-tap dmey scaling filter (read from dmey102.txt in the current folder), rows are extended symmetrically (half-point) by
% lf - 1 and filtered with Lo_D / Hi_D ('valid'), every second column from the 2nd kept; then the same down
% the columns. Output size floor((size + lf - 1) / 2).
function [a, h, v, d] = dwt2(x, wname)
  if ~strcmp(wname, 'dmey'), error('dwt2: only dmey here'); end
  w = load('dmey102.txt'); w = w(:)';
  w = w / sum(w); lo_r = sqrt(2) * w;
  hi_r = fliplr(lo_r); hi_r(2:2:end) = -hi_r(2:2:end);
  lo_d = fliplr(lo_r); hi_d = fliplr(hi_r);
  lf = numel(lo_d); x = double(x);
  y = x(:, symidx(size(x, 2), lf - 1));
  zl = conv2(y, lo_d, 'valid'); zh = conv2(y, hi_d, 'valid');
  a = down(zl, lo_d, lf); h = down(zl, hi_d, lf);
  v = down(zh, lo_d, lf); d = down(zh, hi_d, lf);
end

function y = down(z, f, lf)
  z = z(:, 2:2:end);
  z = z(symidx(size(z, 1), lf - 1), :);
  y = conv2(z, f(:), 'valid');
  y = y(2:2:end, :);
end

function I = symidx(lx, n)
  I = [n:-1:1, 1:lx, lx:-1:lx-n+1];
  while any(I < 1 | I > lx)
    k = I < 1; I(k) = 1 - I(k);
    k = I > lx; I(k) = 2 * lx + 1 - I(k);
  end
end
