// Stylesheets imported for the bundler: Bun's bundler puts them in the page's CSS.
declare module '*.css';
