-- The age group and gender of each report's subject in `case_reports` (codes from closed lists,
-- never anything that names the person), for the Center's outcome figures: identified
-- victims and persons assisted by age group and gender. The case_work projection's version
-- rises with this: servers refold it from the history on start, filling the columns.
ALTER TABLE case_reports ADD COLUMN age_group text, ADD COLUMN gender text;
