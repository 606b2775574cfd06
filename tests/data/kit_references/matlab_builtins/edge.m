% edge(I) as analysis_fmi.m calls it (default method: Sobel, automatic threshold, thinning), written after
% MathWorks' edge.m: gradients by imfilter with fspecial('sobel')/8 ('replicate'), magnitude b = bx.^2 + by.^2,
% cutoff 4*mean(b), and the directional non-maximum thinning of its portable code path. Octave's own
% edge thins differently (simple_thinning), so this file shadows it for the reference run.
function e = edge(a)
  a = double(a);
  op = fspecial('sobel') / 8;
  bx = imfilter(a, op', 'replicate');
  by = imfilter(a, op, 'replicate');
  b = bx .* bx + by .* by;
  cutoff = 4 * sum(b(:)) / numel(b);
  bx = abs(bx); by = abs(by);
  [m, n] = size(b);
  left = true(m, n);  left(:, 2:n) = b(:, 1:n-1) <= b(:, 2:n);
  right = true(m, n); right(:, 1:n-1) = b(:, 1:n-1) > b(:, 2:n);
  up = true(m, n);    up(2:m, :) = b(1:m-1, :) <= b(2:m, :);
  down = true(m, n);  down(1:m-1, :) = b(1:m-1, :) > b(2:m, :);
  e = (b > cutoff) & (((bx >= by - eps * 100) & left & right) | ((by >= bx - eps * 100) & up & down));
end
