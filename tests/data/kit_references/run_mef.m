% MEF-SSIM reference values: Tang's analysis_ms_ssim(imgSeq, f) as analysis_Reference.m calls it (its easy=0
% branch, printed as "MS_SSIM"): imgSeq(:,:,1) = IR, imgSeq(:,:,2) = visible, all im2double(...) * 255.
% Appends "name<TAB>tang<TAB>MS_SSIM<TAB>value" lines to outfile. Per-pixel loops: minutes per image in Octave.
function run_mef(indir, outfile)
  pkg load image;
  here = pwd;
  addpath(fullfile(here, 'Linfeng-Tang+Evaluation-for-Image-Fusion', 'Evaluation'));
  files = dir(fullfile(indir, '*_fused.png'));
  fid = fopen(outfile, 'a');
  for k = 1:numel(files)
    name = strrep(files(k).name, '_fused.png', '');
    f = im2double(imread(fullfile(indir, [name '_fused.png']))) * 255;
    ir = im2double(imread(fullfile(indir, [name '_ir.png']))) * 255;
    vi = im2double(imread(fullfile(indir, [name '_vis.png']))) * 255;
    imgSeq = zeros(size(ir, 1), size(ir, 2), 2);
    imgSeq(:, :, 1) = ir;
    imgSeq(:, :, 2) = vi;
    [q, t1, t2] = analysis_ms_ssim(imgSeq, f);
    fprintf(fid, '%s\ttang\tMS_SSIM\t%.17g\n', name, q);
    fflush(fid);
    printf('%s done\n', name);
  end
  fclose(fid);
end
