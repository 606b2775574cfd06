% blkproc for GNU Octave (missing there) for the call VIFB's metricsQcv.m makes: distinct blocks, no border;
% MATLAB's documented behaviour zero-pads the image to whole blocks, as Octave's blockproc does.
function B = blkproc(A, blk, border, fun)
  if any(border ~= 0)
    error('blkproc: only a zero border is supported here');
  end
  B = blockproc(A, blk, fun);
end
