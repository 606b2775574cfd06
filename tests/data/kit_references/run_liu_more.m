% Q_P and Q_M reference values: Liu et al.'s metricZhao(ir, vi, fused) (with myphasecong3, Kovesi's
% phasecong3) and metricPWW(ir, vi, fused) (Wang & Liu's multiscale metric). metricPWW needs matlabPyrTools
% (the toolbox's matlabPyrTools.zip, unzipped into pyr/) with its corrDn/upConv MEX files compiled for Octave
% into pyrmex/ (README.md); without them only metricZhao runs. Appends "name<TAB>liu<TAB>metric<TAB>value".
function run_liu_more(indir, outfile)
  pkg load image;
  here = pwd;
  addpath(fullfile(here, 'zhengliu6699+imageFusionMetrics'));
  addpath(fullfile(here, 'pyr', 'matlabPyrTools'));
  addpath(fullfile(here, 'pyrmex'));
  with_pww = exist('buildWpyr') > 0 && exist('corrDn') == 3;
  files = dir(fullfile(indir, '*_fused.png'));
  fid = fopen(outfile, 'a');
  for k = 1:numel(files)
    name = strrep(files(k).name, '_fused.png', '');
    F = double(imread(fullfile(indir, [name '_fused.png'])));
    A = double(imread(fullfile(indir, [name '_ir.png'])));
    B = double(imread(fullfile(indir, [name '_vis.png'])));
    if with_pww
      fprintf(fid, '%s\tliu\tmetricPWW\t%.17g\n', name, metricPWW(A, B, F));
    end
    fprintf(fid, '%s\tliu\tmetricZhao\t%.17g\n', name, metricZhao(A, B, F));
    fflush(fid);
  end
  fclose(fid);
end
