% freqspace for GNU Octave (missing there), after MATLAB's documented definition: for n points the
% frequencies are (-n+1:2:n-1)/n when n is odd and (-n:2:n-2)/n when n is even; [f1, f2] = freqspace([m n],
% 'meshgrid') gives f1 along the n columns and f2 along the m rows, as meshgrid(f1, f2).
function [f1, f2] = freqspace(n, flag)
  if numel(n) == 1
    n = [n n];
  end
  f = @(k) (mod(k, 2) == 1) * ((-k + 1:2:k - 1) / k) + (mod(k, 2) == 0) * ((-k:2:k - 2) / k);
  f1 = f(n(2));
  f2 = f(n(1));
  if nargin > 1 && strcmp(flag, 'meshgrid')
    [f1, f2] = meshgrid(f1, f2);
  end
end
