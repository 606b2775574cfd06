% Reference values of the MATLAB fusion-metric kits for sagebench's tests (our driver; the kits are not here).
% Run with GNU Octave 7.3 + image 2.14 from a folder holding the three fetched kits (see README.md):
%   octave --no-gui --eval "run_kits('/tmp/kitin', 'kits.tsv')"
% Each kit is called as its own top-level script calls it:
%   VIFB compute_metrics.m: metricsX(imgVI, imgIR, fused) on the images as imread returns them;
%   Tang analysis_Reference.m: analysis_Reference(img_f, ir, vi, 1) and, as its easy=0 branch does,
%     analysis_nabf(ir_float, vi_float, f_float) (the fused image in the function's last slot);
%   Liu imageFusionMetrics: metricX(ir, vi, fused[, sw]) as fusionAssess.m calls them.
function run_kits(indir, outfile)
  pkg load image;
  here = pwd;
  addpath(fullfile(here, 'xingchenzhang+VIFB', 'metrics'));
  addpath(fullfile(here, 'Linfeng-Tang+Evaluation-for-Image-Fusion', 'Evaluation'));
  addpath(fullfile(here, 'zhengliu6699+imageFusionMetrics'));
  files = dir(fullfile(indir, '*_fused.png'));
  fid = fopen(outfile, 'w');
  vifb = {'Avg_gradient', 'Cross_entropy', 'Edge_intensity', 'Entropy', 'Mutinf', 'Psnr', 'Qabf', 'Qcb', ...
          'Qcv', 'Rmse', 'Spatial_frequency', 'Ssim', 'Variance'};
  for k = 1:numel(files)
    name = strrep(files(k).name, '_fused.png', '');
    f = imread(fullfile(indir, [name '_fused.png']));
    ir = imread(fullfile(indir, [name '_ir.png']));
    vi = imread(fullfile(indir, [name '_vis.png']));
    for m = 1:numel(vifb)
      res = feval(['metrics' vifb{m}], vi, ir, f);
      fprintf(fid, '%s\tvifb\t%s\t%.17g\n', name, vifb{m}, res);
    end
    [EN, SF, SD, PSNR, MSE, MI, VIF, AG, CC, SCD, Qabf] = analysis_Reference(f, ir, vi, 1);
    tang = {'EN', EN; 'SF', SF; 'SD', SD; 'PSNR', PSNR; 'MSE', MSE; 'MI', MI; 'VIF', VIF; 'AG', AG; ...
            'CC', CC; 'SCD', SCD; 'Qabf', Qabf};
    nabf = analysis_nabf(im2double(ir) * 255, im2double(vi) * 255, im2double(f) * 255);
    tang(end + 1, :) = {'Nabf', nabf};
    for m = 1:size(tang, 1)
      fprintf(fid, '%s\ttang\t%s\t%.17g\n', name, tang{m, 1}, tang{m, 2});
    end
    A = double(ir); B = double(vi); F = double(f);
    liu = {'metricMI_1', metricMI(A, B, F, 1); 'metricMI_2', metricMI(A, B, F, 2); ...
           'metricWang', metricWang(A, B, F); 'metricYang', metricYang(A, B, F); ...
           'metricCvejic_2', metricCvejic(A, B, F, 2); 'metricZheng', metricZheng(A, B, F)};
    for m = 1:size(liu, 1)
      fprintf(fid, '%s\tliu\t%s\t%.17g\n', name, liu{m, 1}, liu{m, 2});
    end
    fflush(fid);
    printf('%s done\n', name);
  end
  fclose(fid);
end
