% Tang's FMI_pixel, FMI_dct and FMI_w for sagebench's tests (our driver; the kit is not here). Run with GNU
% Octave 7.3 + image 2.14 + signal 1.4 (dct2) from a folder holding the fetched kit, this file, this
% folder's matlab_builtins/ (MATLAB's edge and dwt2, which Octave computes differently or lacks) and
% dmey102.txt (see README.md); appends to outfile:
%   octave --no-gui --eval "run_fmi('/tmp/kitin', 'kits.tsv', '^t0[156]_')"   # ~7 min per crop
% analysis_fmi is called as analysis_Reference.m's easy=0 branch calls it, on im2double(x) * 255.
function run_fmi(indir, outfile, pattern)
  pkg load image; pkg load signal;
  addpath(fullfile(pwd, 'Linfeng-Tang+Evaluation-for-Image-Fusion', 'Evaluation'));
  addpath(fullfile(pwd, 'matlab_builtins'));  % its edge.m and dwt2.m shadow Octave's
  files = dir(fullfile(indir, '*_fused.png'));
  fid = fopen(outfile, 'a');
  for k = 1:numel(files)
    name = strrep(files(k).name, '_fused.png', '');
    if isempty(regexp(name, pattern, 'once')), continue; end
    A = im2double(imread(fullfile(indir, [name '_ir.png']))) * 255;
    B = im2double(imread(fullfile(indir, [name '_vis.png']))) * 255;
    F = im2double(imread(fullfile(indir, [name '_fused.png']))) * 255;
    tic;
    fprintf(fid, '%s\ttang\tFMI_pixel\t%.17g\n', name, analysis_fmi(A, B, F));
    fprintf(fid, '%s\ttang\tFMI_dct\t%.17g\n', name, analysis_fmi(A, B, F, 'dct'));
    fprintf(fid, '%s\ttang\tFMI_w\t%.17g\n', name, analysis_fmi(A, B, F, 'wavelet'));
    fflush(fid);
    printf('%s done in %.0f s\n', name, toc);
  end
  fclose(fid);
end
